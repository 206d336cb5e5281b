"""Global search (R9): one box, results as you type, across every object the user may see."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from comptoir.core.models import ObjectType
from comptoir.web.objects import OBJECTS, detail_url_for

MIN_LENGTH = 2
POPUP_LIMIT = 8
PAGE_LIMIT = 50
TYPE_LABELS: dict[str, Any] = {
    ObjectType.ACCOUNT: _("Accounts"), ObjectType.CONTACT: _("Contacts"),
    ObjectType.LEAD: _("Leads"), ObjectType.OPPORTUNITY: _("Deals"),
    ObjectType.ACTIVITY: _("Activities"), ObjectType.CASE: _("Cases"),
    ObjectType.PRODUCT: _("Products"), ObjectType.SALES_DOCUMENT: _("Documents"),
}


def _grouped(hits: list[Any]) -> list[dict[str, Any]]:
    groups: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for hit in hits:
        if hit.object_type not in OBJECTS:
            continue
        groups.setdefault(hit.object_type, []).append({
            "hit": hit, "url": detail_url_for(hit.object_type, hit.object_id)})
    return [{"type": t, "label": TYPE_LABELS.get(t, t), "items": items}
            for t, items in groups.items()]


@login_required
def search_view(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:200]
    wanted = [t for t in request.GET.getlist("type") if t in OBJECTS]
    from comptoir.search.services import search

    popup = bool(request.htmx) and request.htmx.target == "search-popup"  # type: ignore[attr-defined]
    hits = (search(request.user, q, types=wanted or None,
                   limit=POPUP_LIMIT if popup else PAGE_LIMIT)
            if len(q) >= MIN_LENGTH else [])
    context = {"q": q, "search_query": q, "groups": _grouped(hits), "count": len(hits),
               "too_short": 0 < len(q) < MIN_LENGTH, "types": TYPE_LABELS.items(),
               "wanted": wanted, "title": _("Search")}
    template = "web/search/popup.html" if popup else "web/search/page.html"
    return render(request, template, context)


urlpatterns = [path("search/", search_view, name="search")]

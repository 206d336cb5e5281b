"""The data manager's data-quality area: duplicates review, merges, audits, enrichment, promotions.

Every page of the area renders through :func:`render_quality`, which adds the tabs and refuses
anyone who does not see the whole base (data managers and administrators): the review queue
and the merge history name records across owners.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from comptoir.access import policy

TABS: tuple[tuple[str, Any], ...] = (
    ("duplicates", _("Duplicates")),
    ("merges", _("Merges")),
    ("audit", _("File audit")),
    ("sirene", _("SIRENE")),
    ("promotions", _("Promotions")),
)


def require_data_manager(request: HttpRequest) -> None:
    """The data-quality pages are for people who see every record (404 for the others)."""
    if not policy.sees_all(request.user):
        raise Http404


def render_quality(request: HttpRequest, template: str, context: dict[str, Any], *,
                   tab: str, status: int = 200) -> HttpResponse:
    """Render one page of the area with its tabs (``tab`` is the active one)."""
    require_data_manager(request)
    tabs = [{"url": reverse(f"web:quality_{name}"), "label": label, "active": name == tab}
            for name, label in TABS]
    return render(request, template, {"quality_tabs": tabs, "title": dict(TABS)[tab],
                                      **context}, status=status)


@login_required
def duplicates(request: HttpRequest) -> HttpResponse:
    return render_quality(request, "web/quality/duplicates.html", {}, tab="duplicates")


@login_required
def merges(request: HttpRequest) -> HttpResponse:
    return render_quality(request, "web/quality/merges.html", {}, tab="merges")


urlpatterns = [
    path("quality/", duplicates, name="quality_duplicates"),
    path("quality/merges/", merges, name="quality_merges"),
]
